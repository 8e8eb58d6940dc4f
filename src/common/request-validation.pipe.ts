import {
  BadRequestException,
  HttpException,
  ValidationPipe,
  type ArgumentMetadata,
} from '@nestjs/common';

/**
 * The global ValidationPipe (whitelist, unknown properties rejected, transform), made safe against
 * hostile bodies: class-transformer can throw on shapes it cannot walk (thousands of nested
 * arrays overflow its recursion), and that must be the client's 400, not the server's 500.
 */
export class RequestValidationPipe extends ValidationPipe {
  constructor() {
    super({ whitelist: true, forbidNonWhitelisted: true, transform: true });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (error instanceof HttpException) throw error;
      throw new BadRequestException('The request body could not be validated (too deeply nested?)');
    }
  }
}
